"""What svclab shows: plain-text tables and the experiments' two-language results and figures."""
