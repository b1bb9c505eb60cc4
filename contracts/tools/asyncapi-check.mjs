// Parses AsyncAPI documents with the official AsyncAPI parser and its Avro schema parser (every Avro
// payload is parsed and converted to JSON Schema; an undefined type name is an error) and, with
// --models, generates TypeScript models from each parsed document with Modelina.
// Usage: node asyncapi-check.mjs [--models] <asyncapi.yaml>...
// Prints a JSON array, one object per document: {path, errors, warnings, messages: {id: {schemaFormat,
// payload}}, models: {name: code}}.
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const args = process.argv.slice(2);
const withModels = args.includes('--models');
const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const where = (d) => (d.path || []).join('/');
const results = [];
for (const path of args.filter((a) => !a.startsWith('--'))) {
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const out = {
    path,
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
    if (withModels) {
      const { TypeScriptGenerator } = await import('@asyncapi/modelina');
      const generator = new TypeScriptGenerator({ modelType: 'interface' });
      for (const model of await generator.generate(document)) {
        out.models[model.modelName] = model.result;
      }
    }
  }
  results.push(out);
}
process.stdout.write(JSON.stringify(results));
