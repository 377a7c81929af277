"""Refund gateways: the port (`protocol`), Stripe, a generic HTTP contract and a fake."""
