
tests/fixtures/models/llama_gqa#tests/fixtures/models/ds_adamw.json"	README.md0HZtests/fixtures/models/gpt2_tiedbbuild-fuzz/job_spec_savejbuild-fuzz/job_spec_hf