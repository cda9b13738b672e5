import { GraphQLError } from 'graphql';

/** A GraphQL error whose extensions.code tells the client what went wrong. */
export function codedError(code: string, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}
