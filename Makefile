# Two commands matter (see README): `make book` and `make test`. Both set everything up first.
PY := .venv/bin/python
BOOK_FLAGS := -W -n --keep-going
TEST_PROCESSES ?= 2  # pytest-xdist processes: the CI machine has 2 cores

.PHONY: setup book test lint release clean-book

setup:
	bash scripts/setup.sh

book: setup
	.venv/bin/jupyter-book build . $(BOOK_FLAGS)

# The test suite also needs PostgreSQL and Chromium: setup.sh installs them only when asked.
test:
	bash scripts/setup.sh --tests
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadgroup

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

release: setup
	$(PY) -m autograder release --all

clean-book:
	rm -rf _build
