"""API tokens: created, hashed, revoked, limited to lists (`models`, `services`, `admin`); the API's
authentication (`sendinglists.api.authentication`) reads them."""
