// {{name}}: a wasmhook filter. It passes the events whose `type` is one of `config.types`
// and drops every other event, including those whose source does not know their type.
//
//   [plugins.{{name}}]
//   wasm = "{{name}}/{{name}}.wasm"
//   config = { types = ["push", "release"] }

import { Kind, Value } from "./json";

/** A filter's answer: a verdict, or a message for the operator that makes it a plugin error. */
export class Answer {
  constructor(
    readonly pass: bool,
    readonly error: string | null = null,
  ) {}
}

/** Decides whether the event `envelope` goes on. */
export function decide(envelope: Value): Answer {
  const types = configTypes(envelope);
  if (types === null) {
    return new Answer(false, 'config.types is required: a list of event types, e.g. { types = ["push"] }');
  }
  const type = eventType(envelope);
  return new Answer(type !== null && types.includes(type));
}

/** `config.types`: a list of strings, not empty; null when it is anything else. */
function configTypes(envelope: Value): string[] | null {
  const config = envelope.member("config");
  if (config === null) return null;
  const value = config.member("types");
  if (value === null || value.kind != Kind.Array) return null;
  const elements = value.elements();
  const types: string[] = [];
  for (let i = 0; i < elements.length; i++) {
    const type = elements[i].asString();
    if (type === null) return null;
    types.push(type);
  }
  return types.length > 0 ? types : null;
}

/** The envelope's `type`; null when the source does not know it. */
function eventType(envelope: Value): string | null {
  const type = envelope.member("type");
  if (type === null) return null;
  return type.asString();
}
