/**
 * The reference workload: four small subgraphs (accounts, inventory, products, reviews) with deterministic
 * in-memory data, in the shape of the Guild's federation gateway benchmark, and its deeply nested query
 * (users → reviews → product → inventory / shipping estimate via @requires → reviews → author → …).
 * Independent of the platform's domain so anyone can compare gateways on it.
 */
import gql from 'graphql-tag';
import type { DocumentNode } from 'graphql';

export const REFERENCE_SUBGRAPHS = ['accounts', 'inventory', 'products', 'reviews'] as const;
export type ReferenceSubgraph = (typeof REFERENCE_SUBGRAPHS)[number];

// ---------------------------------------------------------------- data (deterministic)
const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');
const text = (seed: number, words: number) => Array.from({ length: words }, (_, i) => WORDS[(seed * 7 + i * 3) % WORDS.length]).join(' ');

export interface UserRow { id: string; name: string; username: string; birthday: number }
export interface ProductRow { upc: string; name: string; price: number; weight: number }
export interface ReviewRow { id: string; body: string; authorId: string; upc: string }

export const USERS: UserRow[] = Array.from({ length: 4 }, (_, i) => ({
  id: String(i + 1), name: ['Ada Lovelace', 'Alan Turing', 'Grace Hopper', 'Edsger Dijkstra'][i], username: ['ada', 'alan', 'grace', 'edsger'][i], birthday: 1815 + i * 40,
}));
export const PRODUCTS: ProductRow[] = Array.from({ length: 5 }, (_, i) => ({
  upc: String(i + 1), name: ['Table', 'Couch', 'Chair', 'Lamp', 'Desk'][i], price: [899, 1299, 54, 120, 1500][i], weight: [100, 1000, 50, 10, 400][i],
}));
export const REVIEWS: ReviewRow[] = Array.from({ length: 10 }, (_, i) => ({
  id: String(i + 1), body: text(i + 1, 12 + (i % 4) * 10), authorId: String((i % USERS.length) + 1), upc: String((i % PRODUCTS.length) + 1),
}));
export const IN_STOCK: Record<string, boolean> = { '1': true, '2': false, '3': true, '4': true, '5': false };
/** inventory's @requires(fields: "price weight") field */
export const shippingEstimate = (price: number, weight: number) => (price > 1000 ? 0 : Math.round(weight * 0.5));

// ---------------------------------------------------------------- subgraph schemas
const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@provides", "@shareable"])';

export const TYPE_DEFS: Record<ReferenceSubgraph, DocumentNode> = {
  accounts: gql`${LINK}
    type Query { me: User users: [User] user(id: ID!): User }
    type User @key(fields: "id") { id: ID! name: String username: String @shareable birthday: Int }`,
  inventory: gql`${LINK}
    type Product @key(fields: "upc") {
      upc: String!
      weight: Int @external
      price: Int @external
      inStock: Boolean
      shippingEstimate: Int @requires(fields: "price weight")
    }`,
  products: gql`${LINK}
    type Query { topProducts(first: Int = 5): [Product] }
    type Product @key(fields: "upc") { upc: String! name: String price: Int weight: Int }`,
  reviews: gql`${LINK}
    type Review @key(fields: "id") { id: ID! body: String author: User @provides(fields: "username") product: Product }
    type User @key(fields: "id") { id: ID! username: String @external reviews: [Review] }
    type Product @key(fields: "upc") { upc: String! reviews: [Review] }`,
};

const userById = (id: string) => USERS.find((u) => u.id === id) ?? null;
const productByUpc = (upc: string) => PRODUCTS.find((p) => p.upc === upc) ?? null;

/* eslint-disable @typescript-eslint/no-explicit-any */
export const RESOLVERS: Record<ReferenceSubgraph, any> = {
  accounts: {
    Query: { me: () => USERS[0], users: () => USERS, user: (_: unknown, { id }: { id: string }) => userById(id) },
    User: { __resolveReference: (ref: { id: string }) => userById(ref.id) },
  },
  inventory: {
    Product: {
      __resolveReference: (ref: { upc: string; price?: number; weight?: number }) => ({ ...ref, inStock: IN_STOCK[ref.upc] ?? false }),
      shippingEstimate: (p: { price: number; weight: number }) => shippingEstimate(p.price, p.weight),
    },
  },
  products: {
    Query: { topProducts: (_: unknown, { first }: { first: number }) => PRODUCTS.slice(0, first) },
    Product: { __resolveReference: (ref: { upc: string }) => productByUpc(ref.upc) },
  },
  reviews: {
    Review: {
      __resolveReference: (ref: { id: string }) => REVIEWS.find((r) => r.id === ref.id) ?? null,
      author: (r: ReviewRow) => ({ id: r.authorId, username: userById(r.authorId)!.username }),
      product: (r: ReviewRow) => ({ upc: r.upc }),
    },
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      reviews: (u: { id: string }) => REVIEWS.filter((r) => r.authorId === u.id),
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => ({ upc: ref.upc }),
      reviews: (p: { upc: string }) => REVIEWS.filter((r) => r.upc === p.upc),
    },
  },
};

// ---------------------------------------------------------------- the query and its expected answer
export const REFERENCE_QUERY = `fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users { ...User reviews { ...Review product { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } } } }
  topProducts { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } }
}`;

/** The answer computed from the data by hand, independent of any gateway: a fast wrong answer is a failure. */
export function expectedResult(): unknown {
  const user = (u: UserRow) => ({ id: u.id, username: u.username, name: u.name });
  const review = (r: ReviewRow) => ({ id: r.id, body: r.body });
  const product = (p: ProductRow) => ({ inStock: IN_STOCK[p.upc], name: p.name, price: p.price, shippingEstimate: shippingEstimate(p.price, p.weight), upc: p.upc, weight: p.weight });
  const reviewsOfUser = (u: UserRow) => REVIEWS.filter((r) => r.authorId === u.id);
  const reviewsOfProduct = (p: ProductRow) => REVIEWS.filter((r) => r.upc === p.upc);
  const authorBlock = (r: ReviewRow) => {
    const a = userById(r.authorId)!;
    return { ...user(a), reviews: reviewsOfUser(a).map((rr) => ({ ...review(rr), product: product(productByUpc(rr.upc)!) })) };
  };
  return {
    data: {
      users: USERS.map((u) => ({
        ...user(u),
        reviews: reviewsOfUser(u).map((r) => {
          const p = productByUpc(r.upc)!;
          return { ...review(r), product: { ...product(p), reviews: reviewsOfProduct(p).map((pr) => ({ ...review(pr), author: authorBlock(pr) })) } };
        }),
      })),
      topProducts: PRODUCTS.slice(0, 5).map((p) => ({ ...product(p), reviews: reviewsOfProduct(p).map((r) => ({ ...review(r), author: authorBlock(r) })) })),
    },
  };
}

export const REFERENCE_BODY = JSON.stringify({ query: REFERENCE_QUERY, operationName: 'TestQuery' });
