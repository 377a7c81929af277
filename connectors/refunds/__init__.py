"""Refund gateways: the port (`protocol`), what every HTTP gateway shares (`gateway`, and
`sending`'s rules for what may be sent again), Stripe, a generic HTTP contract and a fake."""
