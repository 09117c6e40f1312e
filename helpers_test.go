package webhook_test

import "github.com/relayhook/webhook"

// allowLoopback lets a test dispatcher reach its loopback receivers.
func allowLoopback(c *webhook.Config) { c.AllowPrivateNetworks = true }
