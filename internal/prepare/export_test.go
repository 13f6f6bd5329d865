package prepare

import "github.com/perfbench/perfbench/internal/secrets"

func secretsFor(env ...string) *secrets.Set { return secrets.FromEnv(env, nil) }
