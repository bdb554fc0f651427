"""The GEM-traced projects of the paper, with their cited, dated facts: TAPI, Pakistan Stream, Iran–Pakistan.

Geometry comes from the GEM Asia Gas Tracker (May 2024); statuses, figures
and their dates come from the sources cited here, each entry of a
``status_history`` or ``facts`` list naming its own (see the README,
"Dated facts"). The review of 2026-12 wrote them; ``layers.build`` calls
:func:`tapi_features`, :func:`north_south_features` and
:func:`iran_pakistan_features`.
"""

import shapely
import shapely.ops

from layers.errors import ImportFailed
from layers.importers import gem

__all__ = ["GEM_RELEASE", "REVIEWED", "gem_dated", "tapi_features", "north_south_features",
           "iran_pakistan_features"]

GEM_RELEASE = "2024-05"  # the GEM Asia Gas Tracker release in data/raw: the date its statuses were true
REVIEWED = "2026-12-01"  # when the built-in layers were last compared with their sources (the corrections of 2026-12)


def _src(title, url):
    return {"title": title, "url": url}


def _entry(date, status, note, source):
    return {"date": date, "status": status, "note": note, "source": source}


def _fact(field, value, as_of, source):
    return {"field": field, "value": value, "as_of": as_of, "source": source}


def gem_dated(feature, row, *, history=None, facts=None, as_of=GEM_RELEASE):
    """Date a GEM-derived feature: GEM's status as of its release unless a cited history says more."""
    props = feature["properties"]
    gem_source = gem._source(row)[0]
    props["as_of"] = as_of
    props["last_checked"] = REVIEWED
    props["status_history"] = history or [_entry(GEM_RELEASE, props["status"], None, gem_source)]
    props["status"] = props["status_history"][-1]["status"]
    for entry in props["status_history"]:
        if entry.get("note") is None:
            entry.pop("note", None)
    if facts:
        props["facts"] = facts
    return feature


GEM_TAPI = _src("Global Energy Monitor: Turkmenistan-Afghanistan-Pakistan-India Gas Pipeline",
                "https://www.gem.wiki/Turkmenistan-Afghanistan-Pakistan-India_Gas_Pipeline")
TAPI_SOURCES = [
    _src("Trend: TAPI 1,814 km (Turkmenistan 214, Afghanistan 774, Pakistan 826 km)",
         "https://en.trend.az/business/energy/3529427.html"),
    _src("News Central Asia (2025-10-22): the 214 km in Turkmenistan completed; Serhetabat-Herat, 153 km, under way",
         "https://www.newscentralasia.net/2025/10/22/tapi-in-herat-turkmen-gas-for-500-industrial-enterprises-and-"
         "a-catalyst-for-economic-growth-in-afghanistan/"),
    _src("Trend via MENAFN (2026-01-27): TAPI in Herat reaches 91 km milestone for pipe-laying",
         "https://menafn.com/1110654726/TAPI-Gas-Pipeline-In-Afghanistans-Herat-Reaches-91-Km-Milestone-For-Pipe-Laying"),
]
TAPI_HISTORY = [
    _entry("2015-12-13", "construction", "ground-breaking in Turkmenistan; construction of the Turkmen section begins",
           TAPI_SOURCES[2]),
    _entry("2018-02-23", "construction", "start of works on the Afghan section announced at Serhetabat; no progress "
           "in Afghanistan followed", _src("Reuters (2018-02-23): Turkmenistan says work starts on Afghan section of "
                                           "gas pipeline to Pakistan, India", "https://www.reuters.com/article/"
                                           "turkmenistan-afghanistan-gas-pipeline/turkmenistan-says-work-starts-on-"
                                           "afghan-section-of-gas-pipeline-to-pakistan-india-idUSL8N1QD0KP")),
    _entry("2024-09-11", "construction", "construction of the Serhetabat-Herat section launched",
           _src("Amu TV (2024-09): holiday in Herat for the launch of the TAPI pipeline project",
                "https://amu.tv/122701")),
    _entry("2026-01-27", "construction", "91 km of the Herat route prepared for pipe-laying", TAPI_SOURCES[2]),
]
TAPI_FACTS = [
    _fact("completed_sections", "214 km in Turkmenistan completed; Serhetabat-Herat (153 km) under construction",
          "2025-10-22", TAPI_SOURCES[1]),
    _fact("completion_target", "Herat section by the end of 2026, first gas late 2026 or early 2027", "2025-10-23",
          _src("Trend via MENAFN (2025-10-23): TAPI Pipeline Company expects to finish the Herat section by late 2026",
               "https://menafn.com/1110237735/TAPI-Pipeline-Company-Ltd-Expects-To-Terminate-Herat-Gas-Pipeline-"
               "Section-By-Late-2026")),
    _fact("ownership", "Turkmengaz 85%, GAIL (India) 5%, Government of Afghanistan 5%, Interstate Gas Systems 5%",
          GEM_RELEASE, GEM_TAPI),
    _fact("capacity", "33 bcm/y", "2026-01-27", TAPI_SOURCES[2]),
]

GEM_PS = _src("Global Energy Monitor: Pakistan Stream Gas Pipeline (ownership Pakistan 74%, Russia 26%)",
              "https://www.gem.wiki/Karachi-Lahore_Gas_Pipeline")
NORTH_SOUTH_SOURCES = [
    _src("Oreanda-News (2021): Russia and Pakistan agreed to build a gas pipeline (amends the IGA of 16 Oct 2015; "
         "1,100 km, 12.4 bcm/y)",
         "https://oreanda-news.com/en/tek/russia-and-pakistan-agreed-to-build-a-gas-pipeline/article1374819"),
    _src("UrduPoint (2021-05-28): protocol on amendments signed in Moscow; renamed Pakistan Stream Gas Pipeline",
         "https://www.urdupoint.com/en/pakistan/pakistan-russia-agree-to-build-pakistan-stre-1262886.html"),
    _src("ARY News (2021-07-15): agreement for the 1,100 km pipeline, US$2.5 billion",
         "https://arynews.tv/pakistan-russia-stream-gas-pipeline-project/"),
    _src("Sputnik Arabic (2022-03-30): the project's cost expected to be about US$3 billion",
         "https://sarabic.ae/amp/20220330/%D9%84%D8%A7%D9%81%D8%B1%D9%88%D9%81-%D9%8A%D9%86%D8%A7%D9%82%D8%B4-%D9%85"
         "%D8%B9-%D9%86%D8%B8%D9%8A%D8%B1%D9%87-%D8%A7%D9%84%D8%A8%D8%A7%D9%83%D8%B3%D8%AA%D8%A7%D9%86%D9%8A-%D8%A5"
         "%D9%86%D8%B4%D8%A7%D8%A1-%D8%AE%D8%B7-%D8%A3%D9%86%D8%A7%D8%A8%D9%8A%D8%A8-%D8%A7%D9%84%D8%BA%D8%A7%D8%B2-"
         "%D8%A7%D9%84%D8%AA%D9%8A%D8%A7%D8%B1-%D8%A7%D9%84%D8%A8%D8%A7%D9%83%D8%B3%D8%AA%D8%A7%D9%86%D9%8A-"
         "1060647324.html"),
    _src("Tabloid PK (2023-10, after The Express Tribune): Russia declines to discuss the pipeline; structure changed "
         "about six times", "https://tabloidpk.com/politics-and-pakistan/pakistans-changes-in-gas-pipeline-"
         "disappoint-russia/"),
]
NORTH_SOUTH_HISTORY = [
    _entry("2015-10-16", "proposed", "inter-governmental agreement signed (North-South gas pipeline)",
           NORTH_SOUTH_SOURCES[0]),
    _entry("2021-05-28", "proposed", "protocol amending the agreement; renamed Pakistan Stream",
           NORTH_SOUTH_SOURCES[1]),
    _entry("2021-07-15", "proposed", "agreement for the 1,100 km line, to be completed by 2023 (not met)",
           NORTH_SOUTH_SOURCES[2]),
    _entry("2023-10", "proposed", "stalled: no commercial deal, Russia declines to discuss the changed structure",
           NORTH_SOUTH_SOURCES[4]),
    _entry(GEM_RELEASE, "proposed", None, GEM_PS),
]
NORTH_SOUTH_FACTS = [
    _fact("ownership", "Pakistani side 74%, Russian side 26% (2021 protocol; the 2015 plan was Russian-led: "
          "RT-Global Resources with Inter State Gas Systems, 85% of costs, build-own-operate-transfer for 25 years)",
          "2021-07-15", NORTH_SOUTH_SOURCES[2]),
    _fact("ownership", "Pakistan 74%, Russia 26% (parent company to be decided)", GEM_RELEASE, GEM_PS),
    _fact("cost", "US$2.5 billion", "2021-07-15", NORTH_SOUTH_SOURCES[2]),
    _fact("cost", "about US$3 billion", "2022-03-30", NORTH_SOUTH_SOURCES[3]),
    _fact("cost", "US$2.5 billion", GEM_RELEASE, GEM_PS),
    _fact("capacity", "12.4 bcm/y", GEM_RELEASE, GEM_PS),
]

IP_SOURCES = [
    _src("Global Energy Monitor: Iran-Pakistan Pipeline", "https://www.gem.wiki/Iran-Pakistan_Pipeline"),
    _src("Iran Times (2024-10-25): Tehran says it has completed the pipeline on its territory at a cost of $2 billion "
         "and uses it to supply southern Iran", "https://iran-times.com/iran-is-preparing-to-sue-paks-over-unbuilt-"
         "pipeline"),
    _src("Al Mayadeen (2023): in July 2011 Iran declared that it had finished its section",
         "https://english.almayadeen.net/articles/analysis/the-iran-pakistan-gas-pipeline-hits-a-rough-patch-once-more"),
    _src("Arab News (2023-08-09): project launched in a ceremony with the presidents of Iran and Pakistan on "
         "11 March 2013; force majeure notice", "https://www.arabnews.pk/node/2352326"),
    _src("The Nation (2023-08-08): project shelved indefinitely after the force majeure notice",
         "https://www.nation.com.pk/08-Aug-2023/project-shelved"),
    _src("ILNA (2024): Pakistan to build the first 81 km (border-Gwadar) of the 781 km pipeline, SIFC approval",
         "https://www.ilna.ir/Section-economy-4/1451045-pakistan-to-finalize-gas-pipeline-from-gwadar-port-to-iran-"
         "border"),
    _src("Hindustan Dot (2024): Iran's 1,150 km section; Pakistan's initial 80 km phase made little progress",
         "https://hindustandot.com/world-news/iran-warns-pakistan-over-gas-pipeline-completion-deadline"),
]
IPI_SOURCES = [
    _src("Trend: the 2,775-kilometre pipeline from Asaluyeh (IPI plan)", "https://www.trend.az/iran/2020106.html"),
]


def tapi_features(by_name):
    row = by_name["Turkmenistan-Afghanistan-Pakistan-India Gas Pipeline"]
    route = gem.parse_route(row["route"])
    trunk, *branches = route.geoms
    features = [gem_dated(gem.pipeline_feature(
        row, fid="tapi_trunk", geometry=trunk, name="TAPI gas pipeline (main trunk)", reported_length_km=1814.0,
        sources=gem._source(row) + TAPI_SOURCES,
        description="Galkynysh (Turkmenistan) – Herat – Kandahar – Quetta – Multan – Fazilka (India). The 214 km "
                    "Turkmen section is reported complete; the Serhetabat–Herat section has been under "
                    "construction since September 2024; the rest is not started.",
    ), row, history=TAPI_HISTORY, facts=TAPI_FACTS, as_of="2026-01-27")]
    for i, branch in enumerate(branches, start=1):
        features.append(gem_dated(gem.pipeline_feature(
            row, fid=f"tapi_branch_{i}", geometry=branch, name=f"TAPI branch {i} (GEM route segment {i + 1})",
            countries=["AFG"],  # GEM lists the whole project's countries; both branches lie in Afghanistan
            description="Short branch traced by GEM as part of the TAPI route; no published length.",
        ), row))
    return features


def north_south_features(by_name):
    row = by_name["Pakistan Stream Gas Pipeline"]
    return [gem_dated(gem.pipeline_feature(
        row, fid="pakistan_stream", name="North–South gas pipeline (Pakistan Stream), Karachi–Lahore",
        sources=gem._source(row) + NORTH_SOUTH_SOURCES, reported_length_km=1100.0, capacity=12.4,
        capacity_unit="bcm/y",
        description="Karachi LNG terminals to Kasur/Lahore, 42-inch. Inter-governmental agreement of 16 October 2015 "
                    "with RT-Global Resources (Rostec), stalled by US sanctions on the Russian side; the 28 May 2021 "
                    "protocol renamed it Pakistan Stream and made it 74% Pakistani / 26% Russian. No construction "
                    "has started; the project has stalled since 2022.",
    ), row, history=NORTH_SOUTH_HISTORY, facts=NORTH_SOUTH_FACTS, as_of="2024-05")]


def _split_at_border(line, inside):
    """``(part in ``inside``, rest)`` of a line that leaves the polygon ``inside`` once (topology, not measurement)."""
    crossing = shapely.intersection(line, inside.boundary)
    if crossing.is_empty:
        raise ImportFailed("Iran-Pakistan route", "does not cross the Iran-Pakistan border")
    at = max(line.project(p) for p in shapely.get_parts(crossing))  # the last crossing out of Iran
    return shapely.ops.substring(line, 0, at), shapely.ops.substring(line, at, line.length)


def iran_pakistan_features(by_name, boundaries):
    ip = by_name["Iran-Pakistan Pipeline"]
    ipi = by_name["Iran-Pakistan-India Pipeline"]
    iran = next(shapely.geometry.shape(f["geometry"]) for f in boundaries if f["properties"]["id"] == "IRN")
    source_route = gem.parse_route(ip["route"])
    iran_part, pakistan_part = _split_at_border(source_route, iran)
    iran_section = gem.pipeline_feature(
        ip, fid="iran_pakistan_iran_section", geometry=iran_part, countries=["IRN"], reported_length_km=1150.0,
        name="Iran–Pakistan pipeline: Iranian section (Asaluyeh–Iranshahr–border)",
        sources=gem._source(ip) + IP_SOURCES[1:3] + IP_SOURCES[6:7],
        length_note="Iran reports its section as 1,150 km; GEM's trace is split where it crosses the border.",
        description="Built by Iran (completion announced July 2011, about US$2 billion); it carries gas within "
                    "southern Iran. No gas has been exported to Pakistan.",
    )
    pakistan_section = gem.pipeline_feature(
        ip, fid="iran_pakistan_pakistan_section", geometry=pakistan_part, countries=["PAK"],
        reported_length_km=781.0, name="Iran–Pakistan pipeline: Pakistani section (border–Gwadar–Nawabshah)",
        sources=gem._source(ip) + IP_SOURCES[3:6],
        description="Pakistan's 781 km section has not been built: a ground-breaking in March 2013, a force majeure "
                    "notice reaffirmed in August 2023 (US sanctions on Iran), the first 80 km (border–Gwadar) "
                    "approved in 2024 with no work reported, and Iran's final notice of arbitration (up to "
                    "US$18 billion) in August 2024.",
    )
    features = [
        gem_dated(iran_section, ip, as_of="2024-10-25", history=[
            _entry("2011-07", "operating", "Iran announces its section finished; used for domestic supply",
                   IP_SOURCES[2]),
            _entry("2024-10-25", "operating", "built to the border, serving southern Iran", IP_SOURCES[1]),
        ]),
        gem_dated(pakistan_section, ip, as_of="2024-10-25", history=[
            _entry("2013-03-11", "construction", "ground-breaking ceremony with the presidents of Iran and Pakistan",
                   IP_SOURCES[3]),
            _entry("2023-08-07", "shelved", "force majeure and excusing event notice announced to the National "
                   "Assembly ('no date or deadline can be given'); shelved indefinitely", IP_SOURCES[4]),
            _entry("2024-10-25", "shelved", "Iran's final notice of Paris arbitration (August 2024); only a token "
                   "section built", IP_SOURCES[1]),
        ], facts=[
            _fact("first_phase", "81 km border-Gwadar approved by the SIFC in 2024; no work reported", "2024",
                  IP_SOURCES[5]),
            _fact("dispute", "Iran's final notice of arbitration in Paris; penalty claim up to US$18 billion",
                  "2024-10-25", IP_SOURCES[1]),
        ]),
        gem_dated(gem.pipeline_feature(
            ipi, fid="iran_pakistan_india", reported_length_km=2775.0, sources=gem._source(ipi) + IPI_SOURCES,
            length_note="The 2,775 km plan is the trunk; GEM also traces a Karachi branch, which the measured "
                        "length includes."), ipi),
    ]
    return features
