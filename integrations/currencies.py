"""ISO 4217 currencies in use, with their minor-unit exponents.

A source amount in minor units is converted by its currency's exponent; a currency not in
this table is unknown and the record is held (a guess could post 100 times the amount).
Facts: ISO 4217 list one (active codes). Zero-, three- and four-decimal codes are listed
apart; every other active code has two decimals.
"""

ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
THREE = "BHD IQD JOD KWD LYD OMR TND"
FOUR = "CLF UYW"
TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF "
    "CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF "
    "IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS "
    "SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWG"
)

EXPONENTS = {
    **{code: 2 for code in TWO.split()},
    **{code: 0 for code in ZERO.split()},
    **{code: 3 for code in THREE.split()},
    **{code: 4 for code in FOUR.split()},
}


def is_known(code):
    return isinstance(code, str) and code.upper() in EXPONENTS


def exponent(code):
    """Minor-unit digits of ``code``; KeyError for an unknown currency."""
    return EXPONENTS[str(code).upper()]
