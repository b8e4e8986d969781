"""CSV imports at scale: detect, map, plan into chunks, apply chunks (one transaction each), report.

One room for the use case: `models`, `services` (create and start a job), `running` (run its
chunks, finish, fail, cancel, resume), `pipeline` + `decide` + `writers` (apply one chunk),
`selectors`, `tasks`, `views` + `forms` + `urls` (the pages), `api/` (the REST endpoints). Pages, the
API, the `import_contacts` command and the Celery tasks all call the services; no service imports
the tasks (they are enqueued by name, `config.celery.enqueue_on_commit`).
"""
