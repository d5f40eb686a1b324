// Infinite scroll like Instagram's grid. The page's config (#feed-config) says where the feed
// is and how to ask for the next page:
//   feed, method ("GET" or a form "POST"), params (sent with every request), variables (a
//   GraphQL "variables" JSON object, with the cursor inside it), cursor (the cursor's name),
//   echo (response keys sent back with the next request, e.g. search's rank_token), start (the
//   first cursor), embedded (true: the first page is in the page's data-sjs Relay blocks and
//   `more` says whether the feed goes on after it), headers (extra request headers, e.g. the
//   X-FB-Friendly-Name that names a GraphQL query).
// Polling as well as listening to "scroll" matters: a crawler calling
// window.scrollTo(0, document.body.scrollHeight) twice at the bottom fires no second event.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("feed-config").textContent);
  var grid = document.getElementById("grid");
  var status = document.getElementById("status");
  var params = Object.assign({}, config.params || {});
  var state = { cursor: config.start || null, more: true, loading: false, notBefore: 0, loaded: 0, errors: 0 };
  window.__demoFeed = state;

  function gridMedias(sections) {
    return sections.flatMap(function (section) {
      return section.layout_content.medias.map(function (entry) { return entry.media; });
    });
  }

  // Any of the site's feed shapes -> {medias, cursor, more}; null for another payload.
  function pageOf(payload) {
    var data = payload.data || {};
    var connection = data.xdt_api__v1__feed__user_timeline_graphql_connection;
    if (connection) {
      return {
        medias: connection.edges.map(function (edge) { return edge.node; }),
        cursor: connection.page_info.end_cursor,
        more: connection.page_info.has_next_page
      };
    }
    if (data.xdt_api__v1__tags__web_info) payload = data.xdt_api__v1__tags__web_info.top;
    if (payload.media_grid) {
      var found = payload.media_grid;
      return { medias: gridMedias(found.sections), cursor: found.next_max_id, more: found.has_more };
    }
    if (payload.sections) {
      return { medias: gridMedias(payload.sections), cursor: payload.next_max_id, more: payload.more_available };
    }
    if (payload.paging_info) {
      return {
        medias: payload.items.map(function (item) { return item.media; }),
        cursor: payload.paging_info.max_id,
        more: payload.paging_info.more_available
      };
    }
    if (payload.items) return { medias: payload.items, cursor: payload.next_max_id, more: payload.more_available };
    return null;
  }

  // The first page of a 2026 page: the Relay results of its data-sjs blocks.
  function embeddedPage() {
    var blocks = document.querySelectorAll("script[type='application/json'][data-sjs]");
    for (var k = 0; k < blocks.length; k++) {
      var doc = JSON.parse(blocks[k].textContent);
      var stream = doc.require[0][3][0].__bbox.require[0][3][1];
      var page = pageOf(stream.__bbox.result);
      if (page) return page;
    }
    return { medias: [], cursor: null, more: false };
  }

  function tile(media) {
    var link = document.createElement("a");
    link.href = "/p/" + media.code + "/";
    link.className = "tile";
    var candidates = media.image_versions2.candidates;
    var img = document.createElement("img");
    img.src = candidates[candidates.length - 1].url;
    img.alt = "Photo by " + media.user.username;
    link.appendChild(img);
    return link;
  }

  function show(page, payload) {
    var fragment = document.createDocumentFragment();
    page.medias.forEach(function (media) { fragment.appendChild(tile(media)); });
    grid.appendChild(fragment);
    (config.echo || []).forEach(function (key) { if (payload && payload[key]) params[key] = payload[key]; });
    state.loaded = grid.children.length;
    state.cursor = page.cursor;
    state.more = Boolean(page.more && page.cursor);
    status.textContent = state.more ? "" : "No more posts.";
  }

  function request() {
    var fields = Object.assign({}, params);
    if (config.variables) {
      var variables = Object.assign({}, config.variables);
      if (state.cursor) variables[config.cursor] = state.cursor;
      fields.variables = JSON.stringify(variables);
    } else if (state.cursor) {
      fields[config.cursor] = state.cursor;
    }
    var query = new URLSearchParams(fields).toString();
    var options = {
      credentials: "same-origin",
      headers: Object.assign(
        { "X-IG-App-ID": "936619743392459", "X-Requested-With": "XMLHttpRequest" },
        config.headers || {}
      )
    };
    if (config.method === "POST") {
      options.method = "POST";
      options.headers["Content-Type"] = "application/x-www-form-urlencoded";
      options.body = query;
      return fetch(config.feed, options);
    }
    return fetch(config.feed + (query ? "?" + query : ""), options);
  }

  function blockedUrl(response) {
    var path = new URL(response.url).pathname;
    return response.redirected && /^\/(accounts\/login|challenge)\//.test(path);
  }

  function retryLater(seconds, refusal) {
    var message = "";
    try { message = JSON.parse(refusal || "{}").message || ""; } catch (error) { message = ""; }
    state.errors += 1;
    state.notBefore = Date.now() + seconds * 1000;
    status.textContent = message || "Couldn't load posts. Retrying…";
  }

  function loadNext() {
    if (state.loading || !state.more || Date.now() < state.notBefore) return;
    state.loading = true;
    request().then(function (response) {
      if (blockedUrl(response)) {
        window.location.href = response.url;  // the site wants us on its login/challenge page
        return null;
      }
      if (!response.ok) {
        // Like Instagram's client, read the refusal to show its message ("Please wait a few
        // minutes before you try again."), then retry later.
        var wait = Number(response.headers.get("Retry-After")) || 2;
        return response.text().then(function (text) {
          retryLater(wait, text);
          state.loading = false;
        });
      }
      return response.json().then(function (payload) {
        show(pageOf(payload) || { medias: [], cursor: null, more: false }, payload);
        state.loading = false;
      });
    }).catch(function () {
      retryLater(2);
      state.loading = false;
    });
  }

  function loadIfNearBottom() {
    var bottom = window.innerHeight + window.scrollY;
    if (bottom >= document.body.scrollHeight - 600) loadNext();
  }

  window.addEventListener("scroll", loadIfNearBottom, { passive: true });
  setInterval(loadIfNearBottom, 250);
  if (config.embedded) {
    show(embeddedPage(), null);
    if (config.more === false) state.more = false;
  } else {
    loadNext();
  }
})();
