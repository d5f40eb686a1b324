"""Stage 3: train the text + image hashtag model and measure it (``hashtag-train``,
``hashtag-evaluate``); :class:`train.predictor.Predictor` is the serving API."""
