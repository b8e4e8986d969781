from tests.staff import operator, viewer  # noqa: F401 - the page tests' staff users
