/** Messages on standard error: one line per problem, each naming the file and the reason. */
export function problem(command: string, file: string, reason: string): void {
  process.stderr.write(`imgcmp ${command}: ${file}: ${reason}\n`);
}

export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}
