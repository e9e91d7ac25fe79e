// Data errors name the file (or folder) and what is wrong with it, so that a
// truncated download or a wrong root is found from the message alone.

/** A data file that exists but cannot be used: `${file}: ${problem}`. */
export class DataFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DataFileError';
  }
}

/** A data set whose folder or files are not where we looked; `hint` says how to get them. */
export class MissingDataError extends Error {
  constructor(
    readonly dataset: string,
    readonly looked: readonly string[],
    problem: string,
    readonly hint: string,
  ) {
    super(`${dataset}: ${problem} (looked in ${looked.join(', ')}). ${hint}`);
    this.name = 'MissingDataError';
  }
}
