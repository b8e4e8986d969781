"""CSV imports at scale: detect, map, plan into chunks, apply chunks (one transaction each), report.

The public services are in `sendinglists.imports.services`; pages, the API, the command and the
Celery tasks all call them.
"""
