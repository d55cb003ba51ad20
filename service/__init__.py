"""The inspection service: the suite's Inspector behind a Flask REST API and a web page (service.app)."""
