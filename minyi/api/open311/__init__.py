"""/open311/v2/: the Open311 GeoReport v2 adapter over intake and cases (XML and JSON)."""
