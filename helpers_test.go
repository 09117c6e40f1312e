package webhook_test

import (
	"time"

	"github.com/relayhook/webhook"
)

// allowLoopback lets a test dispatcher reach its loopback receivers.
func allowLoopback(c *webhook.Config) { c.AllowPrivateNetworks = true }

// defLimits are the default Limits, which tests probe at and past.
var defLimits = webhook.DefaultLimits()

// Defaults and bounds as the docs give them (Config's, Limits',
// ExponentialRetry's and Verifier's fields), so the tests pin the docs.
const (
	minNameLength                 = 32
	maxDataDepthCap               = 9984
	defaultMaxDataBytes           = 256 << 10
	defaultMaxResponseBodyKept    = 1 << 10
	defaultMaxResponseHeaderBytes = 64 << 10
	defaultPollInterval           = 5 * time.Second
	defaultSecretGracePeriod      = 24 * time.Hour
	defaultRetryInitialInterval   = 5 * time.Second
	defaultTolerance              = 5 * time.Minute
	defaultMaxBodyBytes           = 1 << 20
)
