package source

// ListingWaiters is how many callers wait for the listing of repoURL (without credentials) in
// flight.
func (c *Cache) ListingWaiters(repoURL string) int {
	c.refsMu.Lock()
	defer c.refsMu.Unlock()
	if f := c.refsFlights[refsKey{repoURL: repoURL}]; f != nil {
		return f.waiters
	}
	return 0
}
