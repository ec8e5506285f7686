"""Customer insights: when to contact, what they like, how discount-driven, what to offer."""
