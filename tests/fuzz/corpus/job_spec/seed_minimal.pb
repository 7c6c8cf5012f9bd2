
configs/models/tiny-llamaconfigs/ds_zero3_offload.json"	README.md0
