"""The contact page (`/contacts/<id>/`) and its actions: it shows messages, clicks and conversions,
so it lives in the layer that sees them."""
