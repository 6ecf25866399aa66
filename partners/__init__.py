"""Partners keep their own listings: import, validate and publish their feeds and documents.

A service package (second floor): it imports only the ground floor (`learncity.content`,
`learncity.settings`), never `bot/` or `retrieval/`. One module per role:

    registry.py  partners.yaml (who the partners and their admins are) and each feeds.yaml
    records.py   what every format shares: ids, topics, times, the parsed result
    ical.py      iCalendar (.ics) -> records          jsonld.py   schema.org JSON-LD -> records
    tabular.py   our own programme CSV / YAML          writer.py   the partner's folder, atomically
    fetch.py     a file or an http(s) URL, size- and time-limited, conditional requests
    service.py   parse -> check -> publish; listings and removal
    feeds.py     the refresher of feeds.yaml           export.py   the offer as .ics / JSON-LD
    cli.py       the bodies of `learncity import` and `learncity export`
"""
