"""Fixed real-estate vocabularies the seeded world draws from (markets, tags, lead sources).

Kept as data so the world reads like a real brokerage's CRM without per-record Faker calls.
"""
from __future__ import annotations

# state, area code, price multiplier, [(city, zip prefix)] — a metro and its satellite towns
MARKETS: list[tuple[str, str, float, list[tuple[str, str]]]] = [
    ("TX", "512", 1.0, [("Austin", "787"), ("Round Rock", "786"), ("Georgetown", "786"),
                        ("Cedar Park", "786"), ("San Marcos", "786")]),
    ("CO", "303", 1.25, [("Denver", "802"), ("Boulder", "803"), ("Aurora", "800"),
                         ("Lakewood", "802"), ("Littleton", "801")]),
    ("FL", "813", 0.9, [("Tampa", "336"), ("St. Petersburg", "337"), ("Clearwater", "337"),
                        ("Brandon", "335"), ("Sarasota", "342")]),
    ("NC", "919", 0.85, [("Raleigh", "276"), ("Durham", "277"), ("Cary", "275"),
                         ("Chapel Hill", "275"), ("Apex", "275")]),
    ("AZ", "480", 0.95, [("Phoenix", "850"), ("Scottsdale", "852"), ("Tempe", "852"),
                         ("Mesa", "852"), ("Chandler", "852")]),
    ("WA", "206", 1.6, [("Seattle", "981"), ("Bellevue", "980"), ("Redmond", "980"),
                        ("Kirkland", "980"), ("Tacoma", "984")]),
    ("GA", "404", 0.8, [("Atlanta", "303"), ("Marietta", "300"), ("Decatur", "300"),
                        ("Alpharetta", "300"), ("Roswell", "300")]),
    ("TN", "615", 0.9, [("Nashville", "372"), ("Franklin", "370"), ("Brentwood", "370"),
                        ("Murfreesboro", "371"), ("Hendersonville", "370")]),
]

AGENCY_SUFFIXES = ["Realty", "Realty Group", "Home Partners", "Properties", "Real Estate Co.",
                   "Homes & Land", "Residential"]

TAGS = ["VIP", "Repeat Client", "First-Time Buyer", "Investor", "Downsizing", "Relocation",
        "Luxury", "Pre-Approved", "Open House Lead", "Past Client", "Sphere of Influence",
        "Expired Listing", "FSBO", "Referral", "Cash Buyer", "Vacation Home", "Empty Nester",
        "Growing Family", "Veteran", "Needs Follow-Up"]

LEAD_SOURCES = ["Zillow", "Realtor.com", "Open House", "Referral", "Website", "Facebook Ads",
                "Sign Call", "Past Client", "Redfin", "Google Ads", "Door Knocking"]

CONTACT_METHODS = ["email", "phone", "text"]

# contact_type, weight
CONTACT_TYPES = [("buyer", 30), ("seller", 15), ("owner", 35), ("lead", 20)]

PROPERTY_TYPES = [("residential", 70), ("condo", 12), ("multi_family", 8), ("commercial", 5),
                  ("land", 5)]

LISTING_STATUSES = [("off_market", 70), ("active", 10), ("pending", 5), ("sold", 15)]

EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com",
                 "inbox.example.net"]

STREET_SUFFIXES = ["St", "Ave", "Dr", "Ln", "Ct", "Blvd", "Way", "Rd", "Pl", "Trl"]

PRIVATE_NOTES = [
    "Gate code {n4}; prefers texts after 6pm",
    "Going through a divorce - handle with care",
    "Mentioned refinancing at {rate}% last spring",
    "Spouse works at the hospital; kids at Lincoln Elementary",
    "Pre-approval letter from First National, expires soon",
    "Asked not to be called on Sundays",
    "Inherited the house from parents; siblings co-own",
    "Credit issues discussed in confidence",
    "Considering a move for a job transfer in {n2} months",
    "Dog is aggressive - do not enter the yard",
]
