package oauth

import "time"

// SetRefreshRaceWindow shortens how long after a rotation the old refresh
// token passes for a lost race, so a test can replay it.
func (s *Storage) SetRefreshRaceWindow(d time.Duration) { s.raceWindow = d }
