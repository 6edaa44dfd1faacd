/** The tables a Kysely operation node names anywhere in its tree (for plugins that watch statements). */
export function tablesOf(node: unknown, found: string[] = []): string[] {
  if (typeof node !== 'object' || node === null) return found;
  const record = node as { kind?: string; table?: { identifier?: { name?: string } } };
  if (record.kind === 'TableNode' && typeof record.table?.identifier?.name === 'string') found.push(record.table.identifier.name);
  for (const value of Object.values(node)) tablesOf(value, found);
  return found;
}
