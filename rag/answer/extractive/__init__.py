"""The extractive answerer (the offline default): the best-supported evidence sentences,
quoted verbatim and cited, or a refusal. `answerer` is its door, `compose` its selection."""
