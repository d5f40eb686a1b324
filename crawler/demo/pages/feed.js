// Infinite scroll like Instagram's grid: fetch the first feed page on load, then the next
// page whenever the window is near the bottom, until the feed says no more are available.
// Polling as well as listening to "scroll" matters: a crawler calling
// window.scrollTo(0, document.body.scrollHeight) twice at the bottom fires no second event.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("feed-config").textContent);
  var grid = document.getElementById("grid");
  var status = document.getElementById("status");
  var state = { cursor: config.start || null, more: true, loading: false, notBefore: 0, loaded: 0, errors: 0 };
  window.__demoFeed = state;

  function medias(payload) {
    if (payload.sections) {
      return payload.sections.flatMap(function (section) {
        return section.layout_content.medias.map(function (entry) { return entry.media; });
      });
    }
    return payload.items || [];
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
    var url = config.feed + (state.cursor ? "?max_id=" + encodeURIComponent(state.cursor) : "");
    fetch(url, {
      credentials: "same-origin",
      headers: { "X-IG-App-ID": "936619743392459", "X-Requested-With": "XMLHttpRequest" }
    }).then(function (response) {
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
        var fragment = document.createDocumentFragment();
        medias(payload).forEach(function (media) { fragment.appendChild(tile(media)); });
        grid.appendChild(fragment);
        state.loaded = grid.children.length;
        state.cursor = payload.next_max_id;
        state.more = Boolean(payload.more_available && payload.next_max_id);
        status.textContent = state.more ? "" : "No more posts.";
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
  loadNext();
})();
