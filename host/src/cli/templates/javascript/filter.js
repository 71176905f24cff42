// The logic of {{name}}, a wasmhook filter: it passes the events whose `type` is one of
// `config.types`. A plain ES module with no WebAssembly in it, so that `node --test` tests it
// natively; plugin.js is the thin component entry around it.

/**
 * Whether the event goes on. `envelope` is the parsed envelope (see the plugin ABI).
 * Throws an Error, meant for the operator's log, when `config.types` is missing or empty.
 */
export function passes(envelope) {
  const types = envelope.config?.types;
  if (!Array.isArray(types) || types.length === 0) {
    throw new Error('config.types is required: a list of event types, e.g. {"types": ["push"]}');
  }
  // `type` is null when the source does not know the event's type: such an event never passes.
  return envelope.type != null && types.includes(envelope.type);
}
