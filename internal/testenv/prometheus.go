package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// PrometheusAPI gets path (for example /api/v1/alerts) from the Prometheus
// HTTP API at base and decodes its data into v; a status other than
// success is an error.
func PrometheusAPI(base, path string, v any) error {
	resp, err := http.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: status %s", path, env.Status)
	}
	return json.Unmarshal(env.Data, v)
}
