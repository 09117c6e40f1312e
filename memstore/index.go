package memstore

// The listing indexes: besides its list of every delivery by ID
// (org.dlvs), an organization keeps one per state (org.byState), and one
// of every delivery and one per state for each subscription ID
// (org.bySub), all sorted by ID. ListDeliveries walks the narrowest one
// its filter names, so the first page of one subscription's deliveries,
// or of the pending ones, costs the same however many deliveries are
// held. They are kept by ID, not by subscription, so that a deleted
// subscription's delivered and dead deliveries, which stay until pruned,
// are listed under its ID, beside those of a subscription re-created
// with it.

// subIndex lists the deliveries made to one subscription ID, in one
// organization.
type subIndex struct {
	all     sortedList[*dlv]
	byState [stateRemoved]sortedList[*dlv] // by stored state
}

func newSubIndex() *subIndex {
	ix := &subIndex{all: newSpanList(dlvID, dlvCreated)}
	for i := range ix.byState {
		ix.byState[i] = newSpanList(dlvID, dlvCreated)
	}
	return ix
}

// subIndex returns the index of the subscription ID, making it if there
// is none.
func (o *org) subIndex(id string) *subIndex {
	ix := o.bySub[id]
	if ix == nil {
		ix = newSubIndex()
		o.bySub[id] = ix
	}
	return ix
}

// indexAdd adds a new delivery, in its stored state, to the listing
// indexes (org.dlvs aside).
func (s *Store) indexAdd(d *dlv) {
	ix := d.sub.ix
	ix.all.insert(d)
	ix.byState[d.state].insert(d)
	d.sub.org.byState[d.state].insert(d)
}

// indexMove moves d from the state lists of from to those of its
// current state.
func (s *Store) indexMove(d *dlv, from uint8) {
	ix, o := d.sub.ix, d.sub.org
	ix.byState[from].remove(d, same)
	o.byState[from].remove(d, same)
	ix.byState[d.state].insert(d)
	o.byState[d.state].insert(d)
}

// indexRemove takes d, in its stored state, out of the listing indexes
// (org.dlvs aside), and drops its subscription ID's index once it is
// empty and no current subscription uses it.
func (s *Store) indexRemove(d *dlv) {
	ss := d.sub
	ix, o := ss.ix, ss.org
	ix.all.remove(d, same)
	ix.byState[d.state].remove(d, same)
	o.byState[d.state].remove(d, same)
	if ix.all.len() == 0 {
		if cur := s.subs[ss.id]; cur == nil || cur.ix != ix {
			if o.bySub[ss.id] == ix {
				delete(o.bySub, ss.id)
			}
		}
	}
}

// scanStep is how many records a listing looks at, for the filters its
// index does not answer, before it lets go of the lock for a moment.
const scanStep = 4096
