"""Why a host or node failed: its log and details fetched per system (`fetch`), held in a
bounded buffer (`logbuf`), shown with only SGR colours kept (`sgr`), and failing hosts grouped
by what their logs say (`signatures`)."""
