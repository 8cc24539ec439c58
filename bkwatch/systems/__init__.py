"""Everything bkwatch knows about each BlueKing system, one folder per system (`job/`, `sops/`,
`bkflow/`, `nodeman/`, `gsekit/`; `pipeline/` holds what SOPS and BKFlow share).

Kept empty on purpose: the screen imports the pure `registry` (traits), and importing this
package must not bring the HTTP side (`adapters`) with it.
"""
