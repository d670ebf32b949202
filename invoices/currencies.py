"""ISO 4217 currencies in circulation and their minor-unit digits.

Amounts are validated and echoed with exactly these exponents (UAH 2, JPY 0,
KWD 3); a currency not listed here is not a currency we can take money in.
"""

from decimal import Decimal

_NON_DECIMAL_EXPONENTS = {
    # No minor unit.
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    # Thousandths.
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    # Units of account with four digits.
    **dict.fromkeys("CLF UYW".split(), 4),
}

_TWO_DIGIT = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL "
    "BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP "
    "DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR "
    "ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD "
    "MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN "
    "PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
).split()

MINOR_UNIT_DIGITS: dict[str, int] = {
    **dict.fromkeys(_TWO_DIGIT, 2),
    **_NON_DECIMAL_EXPONENTS,
}


def is_known_currency(code: str) -> bool:
    return code in MINOR_UNIT_DIGITS


def minor_unit_digits(code: str) -> int:
    return MINOR_UNIT_DIGITS[code]


def currency_quantum(code: str) -> Decimal:
    """The smallest amount of the currency: 0.01 for UAH, 1 for JPY."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS[code])


def has_valid_precision(amount: Decimal, code: str) -> bool:
    """True when `amount` needs no more fraction digits than the currency has."""
    return amount == amount.quantize(currency_quantum(code))


def amount_in_currency(amount: Decimal, code: str) -> Decimal:
    """`amount` with exactly the currency's fraction digits (2126.6800 UAH → 2126.68)."""
    return amount.quantize(currency_quantum(code))
