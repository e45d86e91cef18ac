// Loose type declarations for the third-party modules the TypeScript fixtures import, so
// that `tsc --noEmit` checks the fixtures' own code, and what `oauth-audit fix` inserts,
// without installing Express, Next.js, NestJS, React or an ORM. Every module not declared
// here is `any` (the wildcard at the end). Used by tests/fix.rs.

declare module 'express' {
  export type Request = any;
  export type Response = any;
  export type NextFunction = any;
  export type RequestHandler = any;
  export function Router(): any;
  const express: any;
  export default express;
}

declare module 'next' {
  export type NextApiRequest = any;
  export type NextApiResponse<T = any> = any;
}

declare module 'next/server' {
  export type NextRequest = any;
  export const NextResponse: any;
  export type NextResponse<T = any> = any;
}

declare module 'react' {
  export type FC<P = {}> = (props: P) => any;
  export type ReactNode = any;
  export function useState<T>(initial?: T | (() => T)): [T, (value: T | ((previous: T) => T)) => void];
  export function useEffect(effect: () => any, deps?: any[]): void;
  export function useRef<T>(initial?: T): { current: T };
  export function useMemo<T>(factory: () => T, deps?: any[]): T;
  export function useCallback<T>(callback: T, deps?: any[]): T;
  const React: any;
  export default React;
}

declare module 'typeorm' {
  export type Repository<T = any> = any;
  export type DataSource = any;
  export type QueryRunner = any;
  export type EntityManager = any;
  export const DataSource: any;
  export const Entity: any;
  export const Column: any;
  export const PrimaryGeneratedColumn: any;
}

declare module '@nestjs/typeorm' {
  export const InjectRepository: any;
  export const InjectDataSource: any;
  export const TypeOrmModule: any;
}

declare module 'pg' {
  export type PoolClient = any;
  export type Client = any;
  export const Pool: any;
  export type Pool = any;
  export const Client: any;
}

declare module 'knex' {
  export interface Knex {
    (...args: any[]): any;
    [member: string]: any;
  }
  export namespace Knex {
    type Transaction = any;
    type QueryBuilder = any;
  }
  const knex: any;
  export default knex;
}

declare module '*';

declare const process: { env: Record<string, string | undefined> };
declare const Deno: { env: { get(name: string): string | undefined } };
