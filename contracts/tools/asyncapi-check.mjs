// Parses contracts/asyncapi.yaml with the official AsyncAPI parser and its Avro schema parser (every
// Avro payload is parsed and converted to JSON Schema; an undefined type name is an error), and
// generates TypeScript models from the parsed document with Modelina.
// Usage: node asyncapi-check.mjs <asyncapi.yaml> [--models]
// Prints one JSON object: {errors, warnings, messages: {id: {schemaFormat, payload}}, models: {name: code}}.
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const [path, ...flags] = process.argv.slice(2);
const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const { document, diagnostics } = await fromFile(parser, path).parse();
const where = (d) => (d.path || []).join('/');
const out = {
  errors: diagnostics.filter((d) => d.severity === 0).map((d) => `${where(d)}: ${d.message}`),
  warnings: diagnostics.filter((d) => d.severity === 1).map((d) => `${where(d)}: ${d.message}`),
  messages: {},
  models: {},
};
if (document) {
  for (const message of document.allMessages()) {
    out.messages[message.id()] = {
      schemaFormat: message.schemaFormat(),
      payload: message.hasPayload() ? message.payload().json() : null,
    };
  }
  if (flags.includes('--models')) {
    const { TypeScriptGenerator } = await import('@asyncapi/modelina');
    const generator = new TypeScriptGenerator({ modelType: 'interface' });
    for (const model of await generator.generate(document)) {
      out.models[model.modelName] = model.result;
    }
  }
}
process.stdout.write(JSON.stringify(out));
