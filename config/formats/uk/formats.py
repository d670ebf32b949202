# Operators compare times with logs, bank statements and callbacks' timestamps:
# to the second, with the zone, in every language (Django's own show minutes).
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
