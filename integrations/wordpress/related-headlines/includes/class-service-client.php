<?php
/**
 * The related-headlines API as the plugin uses it: store, delete, similar, health.
 *
 * Pure PHP: the HTTP call itself is a transport given to the constructor (WP_Transport in WordPress,
 * a recording fake in the unit tests). The API key is sent only on writes, as a bearer token, and is
 * never part of a returned error message.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * A client of one service.
 */
final class Service_Client {

	const WRITE_TIMEOUT = 3.0;   // An editor's save waits at most this long for the service.
	const BULK_TIMEOUT  = 60.0;  // A batch of the backfill (the service embeds every article of it).
	const READ_TIMEOUT  = 2.0;   // A page waits at most this long for a block.
	const SIMILAR_ARGS  = array( 'k', 'profile', 'fill', 'min_relatedness', 'recency_half_life_days', 'diversity', 'max_age_days', 'language', 'section', 'exclude_source', 'duplicates' );

	/**
	 * The service's base URL, without a trailing slash.
	 *
	 * @var string
	 */
	private $base_url;

	/**
	 * The API key ('' : none).
	 *
	 * @var string
	 */
	private $api_key;

	/**
	 * Sends one request: function ( $method, $url, array $headers, $body, $timeout ) returning
	 * array( 'status' => int (0: no answer), 'body' => string, 'error' => string ).
	 *
	 * @var callable
	 */
	private $transport;

	/**
	 * The status of the last answer (0: none came).
	 *
	 * @var int
	 */
	private $last_status = 0;

	/**
	 * A client.
	 *
	 * @param string   $base_url  The service's URL (`https://related.example.com`).
	 * @param string   $api_key   A key of the service's API_KEYS ('' : none).
	 * @param callable $transport See $transport.
	 */
	public function __construct( $base_url, $api_key, callable $transport ) {
		$this->base_url  = self::normalize_base_url( $base_url );
		$this->api_key   = (string) $api_key;
		$this->transport = $transport;
	}

	/**
	 * An http(s) URL without query, fragment, credentials or trailing slash; '' when not one.
	 *
	 * @param string $url The URL as typed.
	 */
	public static function normalize_base_url( $url ) {
		$url   = trim( (string) $url );
		$parts = parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! isset( $parts['scheme'] )
			|| ! in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true )
			|| isset( $parts['user'] ) || isset( $parts['pass'] ) || preg_match( '/[\x00-\x20\x7f]/', $url ) ) {
			return '';
		}
		$port = isset( $parts['port'] ) ? ':' . (int) $parts['port'] : '';
		$path = isset( $parts['path'] ) ? rtrim( $parts['path'], '/' ) : '';
		return strtolower( $parts['scheme'] ) . '://' . $parts['host'] . $port . $path;
	}

	/**
	 * The HTTP status of the last request's answer; 0 when it got none (refused, timed out, no URL set).
	 */
	public function last_status() {
		return $this->last_status;
	}

	/**
	 * Whether a service URL is set.
	 */
	public function configured() {
		return '' !== $this->base_url;
	}

	/**
	 * The path of an article: its id's segments percent-encoded, as widget.js does.
	 *
	 * @param string $id The article id.
	 */
	public static function article_path( $id ) {
		return '/v1/articles/' . implode( '/', array_map( 'rawurlencode', explode( '/', (string) $id ) ) );
	}

	/**
	 * Store (upsert) one article.
	 *
	 * @param array $article From Article_Mapper::to_article().
	 * @return array See result().
	 */
	public function push( array $article ) {
		return $this->write( 'POST', '/v1/articles', $article, self::WRITE_TIMEOUT );
	}

	/**
	 * Store several articles in one request (one transaction: one refused article refuses them all).
	 *
	 * @param array $articles Articles.
	 * @return array See result().
	 */
	public function push_many( array $articles ) {
		return $this->write( 'POST', '/v1/articles', array( 'articles' => array_values( $articles ) ), self::BULK_TIMEOUT );
	}

	/**
	 * Remove an article; one the service does not know counts as removed.
	 *
	 * @param string $id The article id.
	 * @return array See result().
	 */
	public function delete( $id ) {
		$result = $this->write( 'DELETE', self::article_path( $id ), null, self::WRITE_TIMEOUT );
		if ( 404 === $result['status'] ) {
			$result['ok']    = true;
			$result['retry'] = false;
			$result['error'] = '';
		}
		return $result;
	}

	/**
	 * The similar answer of an article: the decoded answer; one with no items when the service does not
	 * know the article (not pushed yet); null when the service failed, refused or was too slow.
	 *
	 * @param string $id   The article id.
	 * @param array  $args Options of the request (see SIMILAR_ARGS; others are not sent).
	 * @return array|null
	 */
	public function similar( $id, array $args = array() ) {
		if ( ! $this->configured() ) {
			$this->last_status = 0;
			return null;
		}
		$query = array();
		foreach ( self::SIMILAR_ARGS as $name ) {
			if ( isset( $args[ $name ] ) && is_scalar( $args[ $name ] ) && '' !== (string) $args[ $name ] ) {
				$query[ $name ] = (string) $args[ $name ];
			}
		}
		$url      = $this->base_url . self::article_path( $id ) . '/similar' . ( $query ? '?' . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 ) : '' );
		$response = $this->send( 'GET', $url, array( 'Accept' => 'application/json' ), null, self::READ_TIMEOUT );
		if ( 404 === $response['status'] ) {
			return array( 'items' => array() );
		}
		$answer = 200 === $response['status'] ? json_decode( $response['body'], true ) : null;
		return is_array( $answer ) && isset( $answer['items'] ) && is_array( $answer['items'] ) ? $answer : null;
	}

	/**
	 * `GET /healthz`: the decoded answer, or null.
	 */
	public function health() {
		if ( ! $this->configured() ) {
			return null;
		}
		$response = $this->send( 'GET', $this->base_url . '/healthz', array( 'Accept' => 'application/json' ), null, self::WRITE_TIMEOUT );
		$answer   = 200 === $response['status'] ? json_decode( $response['body'], true ) : null;
		return is_array( $answer ) ? $answer : null;
	}

	/**
	 * A write: JSON body, bearer key.
	 *
	 * @param string     $method  POST or DELETE.
	 * @param string     $path    The API path.
	 * @param array|null $doc     The JSON document.
	 * @param float      $timeout Seconds.
	 */
	private function write( $method, $path, $doc, $timeout ) {
		if ( ! $this->configured() ) {
			return array(
				'ok'     => false,
				'status' => 0,
				'retry'  => false,
				'error'  => 'no service URL is set',
			);
		}
		$headers = array( 'Accept' => 'application/json' );
		if ( '' !== $this->api_key ) {
			$headers['Authorization'] = 'Bearer ' . $this->api_key;
		}
		$body = null;
		if ( null !== $doc ) {
			$headers['Content-Type'] = 'application/json';
			$body                    = json_encode( $doc, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE );
		}
		return $this->result( $this->send( $method, $this->base_url . $path, $headers, $body, $timeout ) );
	}

	/**
	 * A write's outcome: array( 'ok' => bool, 'status' => int, 'retry' => bool (worth sending again
	 * later: no answer, 408, 429, 5xx), 'error' => string (one line, for the log) ).
	 *
	 * @param array $response From the transport.
	 */
	private function result( array $response ) {
		$status = (int) $response['status'];
		$ok     = $status >= 200 && $status < 300;
		$error  = '';
		if ( ! $ok ) {
			$error = 0 === $status ? 'no answer: ' . $response['error'] : 'HTTP ' . $status;
			$doc   = json_decode( (string) $response['body'], true );
			if ( is_array( $doc ) && isset( $doc['error'] ) && is_array( $doc['error'] ) ) {
				foreach ( array( 'code', 'message' ) as $key ) {
					if ( isset( $doc['error'][ $key ] ) && is_scalar( $doc['error'][ $key ] ) ) {
						$error .= ' ' . $doc['error'][ $key ];
					}
				}
			}
			if ( 401 === $status || 403 === $status ) {
				$error .= ' (check the API key in Settings > Related headlines)';
			}
		}
		return array(
			'ok'     => $ok,
			'status' => $status,
			'retry'  => 0 === $status || 408 === $status || 429 === $status || $status >= 500,
			'error'  => $this->redact( $error ),
		);
	}

	/**
	 * Sends through the transport; a transport that throws or answers nonsense is an answer of status 0.
	 *
	 * @param string      $method  HTTP method.
	 * @param string      $url     URL.
	 * @param array       $headers Headers.
	 * @param string|null $body    Body.
	 * @param float       $timeout Seconds.
	 */
	private function send( $method, $url, array $headers, $body, $timeout ) {
		try {
			$response = call_user_func( $this->transport, $method, $url, $headers, $body, $timeout );
		} catch ( \Throwable $e ) {
			$response = array( 'error' => $e->getMessage() );
		}
		$response          = is_array( $response ) ? $response : array();
		$this->last_status = isset( $response['status'] ) ? (int) $response['status'] : 0;
		return array(
			'status' => $this->last_status,
			'body'   => isset( $response['body'] ) && is_string( $response['body'] ) ? $response['body'] : '',
			'error'  => isset( $response['error'] ) && is_scalar( $response['error'] ) ? (string) $response['error'] : 'no answer',
		);
	}

	/**
	 * One line of at most 300 characters, without the API key.
	 *
	 * @param string $text The text.
	 */
	private function redact( $text ) {
		if ( '' !== $this->api_key ) {
			$text = str_replace( $this->api_key, '[key]', $text );
		}
		return Article_Mapper::cut( trim( preg_replace( '/[\x00-\x1F\x7F]+/', ' ', $text ) ), 300 );
	}
}
