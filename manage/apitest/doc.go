// Package apitest holds the management API's tests that need more than
// the standard library: every answer of the same route suite, run on
// memstore and on pgstore, is validated against the checked-in OpenAPI
// document with kin-openapi. It is a module of its own so that the core
// module never depends on them. It has no exported names.
package apitest
