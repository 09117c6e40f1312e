// Package webhooktest helps host applications test code that sends
// webhooks: a fake clock to drive retry schedules without sleeping, a
// recording receiver that verifies signatures, and a dispatcher wired for
// tests.
package webhooktest
