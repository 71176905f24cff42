test: {{name}}.wasm
	test "$$($(WASMHOOK) plugin run {{name}}.wasm --filter < example.json)" = true
	test "$$($(WASMHOOK) plugin run {{name}}.wasm --filter --config '{"types":["release"]}' < example.json)" = false
	$(WASMHOOK) test -c routes.toml
	@echo "test: ok"
