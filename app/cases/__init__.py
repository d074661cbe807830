"""Cases (事件): disputes, petitions and incidents from report to resolution."""
