"""Standards-exact payment codes for "pay by transfer": pure builders, no network.

Every builder refuses what its standard forbids by raising `PaymentCodeError`, whose
message names the offending field, so an unscannable or invalid code is never produced.
"""


class PaymentCodeError(ValueError):
    """Input that the payment code's standard does not allow."""
