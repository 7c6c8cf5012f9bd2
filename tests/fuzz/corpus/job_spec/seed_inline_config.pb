
configs/models/tiny-llama:{"train_batch_size": 2, "zero_optimization": {"stage": 3}}"	README.md*uint320è8€@Pr	fuzz seed