package webhook

import (
	"context"
)

// ModifySubscription changes the organization's subscription with the ID
// through change, as one read and one write that no other write of this
// Dispatcher (UpdateSubscription, RotateSecret, ModifySubscription) comes
// between: change is given a copy of the stored subscription, and what it
// leaves is validated and stored by UpdateSubscription's rules. It returns
// the subscription as it was and as stored.
//
// An error from change is returned as it is, and nothing is written; so is
// a *ValidationError when change leaves an invalid subscription or changes
// its ID, Number or OrganizationID. A write of the same subscription by
// another process at the same instant may still be lost, as with
// UpdateSubscription.
func (d *Dispatcher) ModifySubscription(ctx context.Context, orgID, id string, change func(*Subscription) error) (before, after *Subscription, err error) {
	if change == nil {
		return nil, nil, invalid(ErrInvalidArgument, "change", "is nil")
	}
	if d.isClosed() {
		return nil, nil, ErrDispatcherClosed
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	old, err := d.store.GetSubscription(ctx, orgID, id)
	if err != nil {
		return nil, nil, err
	}
	s := old.Clone()
	if err := change(s); err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		field   string
		changed bool
	}{
		{"id", s.ID != old.ID},
		{"number", s.Number != old.Number},
		{"organizationId", s.OrganizationID != old.OrganizationID},
	} {
		if f.changed {
			return nil, nil, invalid(ErrInvalidSubscription, f.field, "cannot be changed")
		}
	}
	if err := d.validateSubscription(s); err != nil {
		return nil, nil, err
	}
	if err := d.replaceSubscription(ctx, old, s); err != nil {
		return nil, nil, err
	}
	return old, s, nil
}
