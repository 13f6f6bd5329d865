package records

// Prediction is one line of predictions.jsonl, the SWE-bench/GSO format.
type Prediction struct {
	InstanceID      string `json:"instance_id"`
	ModelPatch      string `json:"model_patch"`
	ModelNameOrPath string `json:"model_name_or_path"`
}
