package agent

// SyncBuf is syncBuf for the external tests (package agent_test).
type SyncBuf = syncBuf
