
meta-llama/Llama-2-7b-hfconfigs/ds_zero3_auto.json"	README.md0